SELECT s.sale_id, s.customer_id, s.sold_on, CAST(s.amount_eur AS REAL) AS amount_eur
FROM raw_sales AS s
JOIN raw_customers AS c ON c.customer_id = s.customer_id
