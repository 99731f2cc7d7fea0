-- Revenue by channel: users each channel brought and what their sessions bought, highest first.
SELECT usc.channel, COUNT(DISTINCT usc.userid) users, SUM(st.amount) revenue
FROM raw_data.user_session_channel usc
LEFT JOIN raw_data.session_transaction st ON st.sessionid = usc.sessionid
GROUP BY 1
ORDER BY 3 DESC;
