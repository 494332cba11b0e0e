-- The detect workers' checkpoints compressed with lz4 instead of pglz.
--
-- At the large city's size a partition's pickled state is about 9.7 MB, saved every
-- `citypulse detect --checkpoint-every` seconds (10 by default), eight partitions in all.
-- PostgreSQL compressed each save with pglz: 108 ms of a backend's CPU per save, stored
-- as 1.09 MB.  lz4 takes 25 ms and stores 0.27 MB of the same state (a real checkpoint
-- from `citypulse bench soak --city large`, UPDATEd ten times each way).  A server
-- built without lz4 keeps pglz and says so.

DO $$
BEGIN
    ALTER TABLE detector_checkpoints ALTER COLUMN state SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'this PostgreSQL has no lz4: detector_checkpoints.state stays pglz';
END $$;
