SELECT customer_id, name, country, segment FROM raw_customers
