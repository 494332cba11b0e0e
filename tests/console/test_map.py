"""The console's map over real HTTP: the queue's appeals under the same filters and the
devices, on the city's own map (streets, district boundaries), markers linked to the
appeals and districts to the queue, an agency's operator seeing only its appeals."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from simulator import preset_city
from tests.citypulse.render._svg import map_svg, markers, overlapping
from tests.console._data import STATION, air_appeal, citizen_report
from tests.fix_console import PARKING, LiveConsole


def _links(html: str) -> list[str]:
    return [a.get("href", "") for a in map_svg(html).iter("a")]


def test_the_map_shows_appeals_and_devices_linked_to_the_queue(
    live_console: LiveConsole,
) -> None:
    sensor = air_appeal(live_console.db_url)
    citizen = citizen_report(live_console.db_url, "Дым <script>x</script> у Театральной")
    with live_console.signed_in() as c:
        queue = c.get("/console/").text
        assert 'href="/console/map"' in queue
        r = c.get("/console/map")
        assert r.status_code == 200, r.text
        html = r.text
        links = _links(html)
        # each appeal's marker opens it; the station with an appeal links to it too
        assert links.count(f"/console/appeals/{sensor}") == 2
        assert f"/console/appeals/{citizen}" in links
        svg = map_svg(html)
        titles = [g.findtext("title") or "" for g in svg.iter("g") if g.get("class") == "marker"]
        assert any(STATION in t for t in titles)
        assert any(t.startswith(f"№{citizen} · гражданин") for t in titles)
        assert "<script>x" not in html  # escaped in titles and in the list
        assert len(markers(svg)) == len(preset_city().devices()) + 2  # devices, appeals
        assert overlapping(markers(svg)) == []
        streets = [e.findtext("title") for e in svg.iter("polyline") if e.get("class") == "street"]
        assert "ул. Кирова" in streets
        districts = [a for a in svg.iter("a") if a.find("path") is not None]
        names = [a.findtext("path/title") for a in districts]
        assert "Ленинский округ" in names
        href = districts[names.index("Ленинский округ")].get("href", "")
        assert parse_qs(urlsplit(href).query) == {"district": ["Ленинский округ"]}
        assert c.get(href).status_code == 200  # the queue, filtered to the district
        assert f'href="/console/appeals/{sensor}"' in html.split("</svg>")[1]  # the list
        # the queue's filters apply, and its link to the map carries them
        only = c.get("/console/map?source=citizen").text
        assert f"/console/appeals/{sensor}" not in _links(only)
        assert f"/console/appeals/{citizen}" in _links(only)
        assert 'href="/console/map?source=citizen"' in c.get("/console/?source=citizen").text
        assert c.get("/console/map?source=nope").status_code == 400
        english = c.get("/console/lang?to=en&next=/console/map", follow_redirects=True).text
        assert "<h1>Map</h1>" in english
        assert "air monitoring station" in english  # the legend too
    with live_console.signed_in(live_console.parking_key) as c:  # another agency's operator
        theirs = _links(c.get("/console/map").text)
        assert not any(re.fullmatch(rf"/console/appeals/({sensor}|{citizen})", h) for h in theirs)
    with live_console.client() as anonymous:
        r = anonymous.get("/console/map", follow_redirects=False)
        assert r.status_code == 303
        assert PARKING not in r.text
