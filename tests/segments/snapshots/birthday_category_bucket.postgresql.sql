SELECT contacts.id 
FROM contacts 
WHERE contacts.merged_into_id IS NULL AND to_char(contacts.birthday, %(to_char_1)s::VARCHAR) IN (__[POSTCOMPILE_to_char_2]) AND (((((contacts.id + 23757) * 2654435761) %% 2147483647) * (((contacts.id + 23757) * 2654435761) %% 2147483647)) %% 4294967291) %% 100 >= %(param_1)s::BIGINT AND (((((contacts.id + 23757) * 2654435761) %% 2147483647) * (((contacts.id + 23757) * 2654435761) %% 2147483647)) %% 4294967291) %% 100 < %(param_2)s::BIGINT AND contacts.id IN (SELECT orders.contact_id 
FROM orders JOIN order_lines ON order_lines.order_id = orders.id 
WHERE (orders.status NOT IN (__[POSTCOMPILE_status_1])) AND orders.contact_id IN (SELECT contacts.id 
FROM contacts 
WHERE contacts.merged_into_id IS NULL AND to_char(contacts.birthday, %(to_char_1)s::VARCHAR) IN (__[POSTCOMPILE_to_char_2]) AND (((((contacts.id + 23757) * 2654435761) %% 2147483647) * (((contacts.id + 23757) * 2654435761) %% 2147483647)) %% 4294967291) %% 100 >= %(param_1)s::BIGINT AND (((((contacts.id + 23757) * 2654435761) %% 2147483647) * (((contacts.id + 23757) * 2654435761) %% 2147483647)) %% 4294967291) %% 100 < %(param_2)s::BIGINT) AND (order_lines.category = %(category_1)s::VARCHAR OR order_lines.product_external_id IN (SELECT products.external_id 
FROM products 
WHERE (products.categories @> jsonb_build_array(%(param_3)s::VARCHAR)))) AND orders.placed_at >= %(param_4)s::TIMESTAMP WITH TIME ZONE) AND NOT coalesce(encode(sha256(convert_to(contacts.email, %(convert_to_1)s::VARCHAR)), %(encode_1)s::VARCHAR) IN (SELECT suppressions.email_hash 
FROM suppressions), false)
-- category_1 = 'Shoes'
-- convert_to_1 = 'UTF8'
-- encode_1 = 'hex'
-- param_1 = 0
-- param_2 = 10
-- param_3 = 'Shoes'
-- param_4 = datetime.datetime(2026, 10, 3, 9, 0, tzinfo=datetime.timezone.utc)
-- status_1 = ['cancelled', 'refunded']
-- to_char_1 = 'MM-DD'
-- to_char_2 = ['11-02', '11-03', '11-04', '11-05', '11-06', '11-07', '11-08', '11-09']
