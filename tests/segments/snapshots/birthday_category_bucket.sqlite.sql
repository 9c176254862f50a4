SELECT contacts.id 
FROM contacts 
WHERE contacts.merged_into_id IS NULL AND strftime(?, contacts.birthday) IN (__[POSTCOMPILE_strftime_2]) AND (((((contacts.id + 23757) * 2654435761) % 2147483647) * (((contacts.id + 23757) * 2654435761) % 2147483647)) % 4294967291) % 100 >= ? AND (((((contacts.id + 23757) * 2654435761) % 2147483647) * (((contacts.id + 23757) * 2654435761) % 2147483647)) % 4294967291) % 100 < ? AND contacts.id IN (SELECT orders.contact_id 
FROM orders JOIN order_lines ON order_lines.order_id = orders.id 
WHERE (orders.status NOT IN (__[POSTCOMPILE_status_1])) AND orders.contact_id IN (SELECT contacts.id 
FROM contacts 
WHERE contacts.merged_into_id IS NULL AND strftime(?, contacts.birthday) IN (__[POSTCOMPILE_strftime_2]) AND (((((contacts.id + 23757) * 2654435761) % 2147483647) * (((contacts.id + 23757) * 2654435761) % 2147483647)) % 4294967291) % 100 >= ? AND (((((contacts.id + 23757) * 2654435761) % 2147483647) * (((contacts.id + 23757) * 2654435761) % 2147483647)) % 4294967291) % 100 < ?) AND (order_lines.category = ? OR order_lines.product_external_id IN (SELECT products.external_id 
FROM products 
WHERE EXISTS (SELECT ? AS anon_1 
FROM json_each(products.categories) AS category 
WHERE category.value = ?))) AND orders.placed_at >= ?) AND coalesce(mw_sha256(contacts.email) IN (SELECT suppressions.email_hash 
FROM suppressions), 0) = 0
-- category_1 = 'Shoes'
-- param_1 = 0
-- param_2 = 10
-- param_3 = 1
-- param_4 = datetime.datetime(2026, 10, 3, 9, 0, tzinfo=datetime.timezone.utc)
-- status_1 = ['cancelled', 'refunded']
-- strftime_1 = '%m-%d'
-- strftime_2 = ['11-02', '11-03', '11-04', '11-05', '11-06', '11-07', '11-08', '11-09']
-- value_1 = 'Shoes'
