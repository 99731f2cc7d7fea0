-- Monthly active users: distinct users with at least one session in the month.
SELECT LEFT(ts, 7) "month", COUNT(DISTINCT userid) mau
FROM raw_data.session_timestamp st
JOIN raw_data.user_session_channel usc ON st.sessionid = usc.sessionid
GROUP BY 1
ORDER BY 1;
