-- Units and meanings of the readings columns, for both schema modes.

COMMENT ON TABLE traffic_light_readings IS 'signal controller state; on each phase change and as heartbeat';
COMMENT ON COLUMN traffic_light_readings.phase IS 'red | red_yellow | green | yellow | flashing_yellow | off';
COMMENT ON COLUMN traffic_light_readings.phase_elapsed IS 'time since the current phase began, s';
COMMENT ON COLUMN traffic_light_readings.cycle_length IS 'signal cycle length, s';
COMMENT ON COLUMN traffic_light_readings.lamp_fault IS 'controller reports a failed lamp';
COMMENT ON COLUMN traffic_light_readings.door_open IS 'cabinet door open';
COMMENT ON COLUMN traffic_light_readings.supply_voltage IS 'mains supply voltage, V';
COMMENT ON COLUMN traffic_light_readings.controller_mode IS 'fixed_time | actuated | adaptive | manual | ...';
COMMENT ON COLUMN traffic_light_readings.time_from_receiver IS 'the payload had no time: time is the reception time';

COMMENT ON TABLE camera_readings IS 'TrafficFlowObserved per lane over the reporting interval';
COMMENT ON COLUMN camera_readings.lane_id IS 'lane number, 0 = all lanes';
COMMENT ON COLUMN camera_readings.intensity IS 'vehicles counted in the interval, vehicles';
COMMENT ON COLUMN camera_readings.average_vehicle_speed IS 'mean speed, km/h';
COMMENT ON COLUMN camera_readings.occupancy IS 'fraction of time the detection zone was occupied, 0..1';
COMMENT ON COLUMN camera_readings.heavy_vehicle_share IS 'share of heavy vehicles, 0..1';
COMMENT ON COLUMN camera_readings.congested IS 'device flags the lane congested';
COMMENT ON COLUMN camera_readings.time_from_receiver IS 'the payload had no time: time is the reception time';

COMMENT ON TABLE parking_readings IS 'OffStreetParking occupancy';
COMMENT ON COLUMN parking_readings.total_spot_number IS 'spots in the lot, count';
COMMENT ON COLUMN parking_readings.occupied_spot_number IS 'occupied spots, count';
COMMENT ON COLUMN parking_readings.out_of_service_slot_number IS 'spots out of service, count';
COMMENT ON COLUMN parking_readings.time_from_receiver IS 'the payload had no time: time is the reception time';

COMMENT ON TABLE ecology_readings IS 'AirQualityObserved and NoiseLevelObserved';
COMMENT ON COLUMN ecology_readings.pm25 IS 'PM2.5, µg/m³';
COMMENT ON COLUMN ecology_readings.pm10 IS 'PM10, µg/m³';
COMMENT ON COLUMN ecology_readings.no2 IS 'NO2, µg/m³';
COMMENT ON COLUMN ecology_readings.so2 IS 'SO2, µg/m³';
COMMENT ON COLUMN ecology_readings.co IS 'CO, mg/m³';
COMMENT ON COLUMN ecology_readings.o3 IS 'O3, µg/m³';
COMMENT ON COLUMN ecology_readings.laeq IS 'equivalent continuous sound level LAeq, dB(A)';
COMMENT ON COLUMN ecology_readings.temperature IS 'air temperature, °C';
COMMENT ON COLUMN ecology_readings.relative_humidity IS 'relative humidity, 0..1';
COMMENT ON COLUMN ecology_readings.atmospheric_pressure IS 'atmospheric pressure, hPa';
COMMENT ON COLUMN ecology_readings.time_from_receiver IS 'the payload had no time: time is the reception time';
