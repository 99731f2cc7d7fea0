-- Sessions per channel per month.
SELECT LEFT(st.ts, 7) "month", usc.channel, COUNT(*) sessions
FROM raw_data.session_timestamp st
JOIN raw_data.user_session_channel usc ON st.sessionid = usc.sessionid
GROUP BY 1, 2
ORDER BY 1, 2;
