-- Refund rate per channel: purchases, refunded purchases and their share in percent.
SELECT usc.channel,
       COUNT(*) purchases,
       SUM(CASE WHEN st.refunded THEN 1 ELSE 0 END) refunds,
       ROUND(100.0 * SUM(CASE WHEN st.refunded THEN 1 ELSE 0 END) / COUNT(*), 2) refund_pct
FROM raw_data.session_transaction st
JOIN raw_data.user_session_channel usc ON st.sessionid = usc.sessionid
GROUP BY 1
ORDER BY 1;
