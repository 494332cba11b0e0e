-- Citizens' reports located by an address instead of coordinates.  GeoReport v2 allows
-- address_string or address_id in place of lat/long; such a report is routed by its
-- service like any other, and an operator has to place it on the map.  Identical in both
-- schema modes.
--
-- needs_location follows the coordinates: it is true while an appeal has none and turns
-- false by itself once an operator sets lat and lon.

ALTER TABLE appeals ADD COLUMN address_id text NOT NULL DEFAULT '';
ALTER TABLE appeals ADD COLUMN needs_location boolean
    GENERATED ALWAYS AS (lat IS NULL OR lon IS NULL) STORED;
COMMENT ON COLUMN appeals.address_id IS 'the reporter''s address id (GeoReport v2), if given';
COMMENT ON COLUMN appeals.needs_location IS 'no coordinates yet: an operator places it on the map';

-- The operators' list of reports still to place, newest first.
CREATE INDEX appeals_needs_location ON appeals (requested_at DESC)
    WHERE needs_location AND status NOT IN ('resolved', 'closed', 'rejected');
