-- Registers the demo lake that `tarn demo` writes. Tarn replaces ${DEMO_LAKE} with the lake's
-- folder ($TARN_HOME/demo-lake); put your own folder or s3://bucket/prefix there to reuse this.
CREATE DATABASE IF NOT EXISTS raw_data;

-- Which channel brought each session: plain CSV with a header row.
CREATE EXTERNAL TABLE IF NOT EXISTS raw_data.user_session_channel (
    userid int,
    sessionid varchar(32),
    channel varchar(32)
)
ROW FORMAT DELIMITED FIELDS TERMINATED BY ','
STORED AS TEXTFILE
LOCATION '${DEMO_LAKE}/user_session_channel/'
TBLPROPERTIES ('skip.header.line.count'='1');

-- Purchases made in a session: gzip-compressed CSV with a header row.
CREATE EXTERNAL TABLE IF NOT EXISTS raw_data.session_transaction (
    sessionid varchar(32),
    refunded boolean,
    amount int
)
ROW FORMAT DELIMITED FIELDS TERMINATED BY ','
STORED AS TEXTFILE
LOCATION '${DEMO_LAKE}/session_transaction/'
TBLPROPERTIES ('skip.header.line.count'='1', 'compressionType'='gzip');

-- When each session happened: Parquet in Hive partitions year=YYYY/month=M.
CREATE EXTERNAL TABLE IF NOT EXISTS raw_data.session_timestamp (
    sessionid varchar(32),
    ts timestamp
)
PARTITIONED BY (year int, month int)
STORED AS PARQUET
LOCATION '${DEMO_LAKE}/session_timestamp/';

-- Registers the partition folders found under the table's location.
MSCK REPAIR TABLE raw_data.session_timestamp;
