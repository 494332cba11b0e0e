"""Publish the folder, the data source and every dashboard to a running Grafana.

Idempotent: run it after every change; the uids decide what is replaced. The token is a
Grafana service account token (Editor on the folder, data source writer). The data source
logs in as CITYPULSE_GRAFANA_DB_USER / CITYPULSE_GRAFANA_DB_PASSWORD (a login holding
only citypulse_reader); its host and database default to those of the read URL.
"""

from __future__ import annotations

import argparse
import sys
from urllib.parse import urlsplit

from citypulse import ConfigError, Secret, Settings, http_url, positive_float

HELP = "publish dashboards to a Grafana"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", type=http_url, help="Grafana base URL (env CITYPULSE_GRAFANA_URL)")
    parser.add_argument(
        "--token",
        help="service account token (env CITYPULSE_GRAFANA_TOKEN; the flag shows in ps)",
    )
    parser.add_argument("--folder", default="citypulse", help="folder uid and title")
    parser.add_argument(
        "--db-host", help="host:port Grafana reaches PostgreSQL at (default: the read URL's)"
    )
    parser.add_argument("--db-name", help="database name (default: the read URL's)")
    parser.add_argument(
        "--schema-mode",
        choices=("auto", "timescale", "plain"),
        default="auto",
        help="TimescaleDB switch of the data source; auto asks the database (default)",
    )
    parser.add_argument(
        "--no-datasource", action="store_true", help="leave the data source as it is"
    )
    parser.add_argument(
        "--timeout", type=positive_float, default=10.0, help="per request, s (default 10)"
    )


def _schema_mode(args: argparse.Namespace, settings: Settings) -> str:
    if args.schema_mode != "auto":
        return str(args.schema_mode)
    from citypulse.db import connect, schema_mode

    with connect(settings.reader_url, connect_timeout=5) as conn:
        return schema_mode(conn)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from grafana._build import build_dashboards, region_timezone
    from grafana._publish import DataSourceSpec, publish

    url = args.url or settings.grafana_url
    token = Secret(args.token) if args.token else settings.grafana_token
    if not url:
        raise ConfigError("CITYPULSE_GRAFANA_URL", "give --url or set the variable")
    if not token:
        raise ConfigError("CITYPULSE_GRAFANA_TOKEN", "give --token or set the variable")
    datasource = None
    if not args.no_datasource:
        if not settings.grafana_db_user:
            raise ConfigError(
                "CITYPULSE_GRAFANA_DB_USER",
                "not set: set it (and CITYPULSE_GRAFANA_DB_PASSWORD) to the read-only "
                "PostgreSQL login Grafana's data source uses, or give --no-datasource",
            )
        reader = urlsplit(settings.reader_url)
        datasource = DataSourceSpec(
            host=args.db_host or f"{reader.hostname}:{reader.port or 5432}",
            database=args.db_name or reader.path.lstrip("/") or "citypulse",
            user=settings.grafana_db_user,
            password=settings.grafana_db_password,
            timescaledb=_schema_mode(args, settings) == "timescale",
        )
    report = publish(
        url=url,
        token=token,
        dashboards=build_dashboards(timezone=region_timezone(settings.routing_file)),
        datasource=datasource,
        folder_uid=args.folder,
        folder_title=args.folder,
        timeout=args.timeout,
    )
    print(f"folder {args.folder}: {report.folder}; data source: {report.datasource}")
    for uid, version, path in report.dashboards:
        print(f"  {uid}: version {version} {url.rstrip('/')}{path}")
    sys.stdout.flush()
    return 0
