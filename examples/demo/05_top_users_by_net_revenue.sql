-- Top 10 users by net revenue: what they paid, less what was refunded.
SELECT usc.userid,
       COUNT(*) purchases,
       SUM(st.amount) gross_revenue,
       SUM(CASE WHEN st.refunded THEN 0 ELSE st.amount END) net_revenue
FROM raw_data.session_transaction st
JOIN raw_data.user_session_channel usc ON st.sessionid = usc.sessionid
GROUP BY 1
ORDER BY 4 DESC, 1
LIMIT 10;
