SELECT contacts.id 
FROM contacts 
WHERE contacts.merged_into_id IS NULL AND (contacts.revenue_minor > ? AND contacts.revenue_minor >= (SELECT contacts.revenue_minor 
FROM contacts 
WHERE contacts.merged_into_id IS NULL AND contacts.revenue_minor > ? ORDER BY contacts.revenue_minor DESC
 LIMIT ? OFFSET (SELECT (count(*) * ? + ?) / ? - ? AS anon_1 
FROM (SELECT contacts.revenue_minor AS revenue_minor 
FROM contacts 
WHERE contacts.merged_into_id IS NULL AND contacts.revenue_minor > ?) AS ranked)) OR coalesce(contacts.id IN (SELECT events.contact_id 
FROM events 
WHERE events.name IN (__[POSTCOMPILE_name_1]) AND events.occurred_at >= ? AND (events.name != ? OR coalesce(json_type(events.properties, ?) IN (__[POSTCOMPILE_json_type_2]), 0) = 0)), 0) = 0 OR contacts.id IN (SELECT events.contact_id 
FROM events 
WHERE events.name = ? AND (EXISTS (SELECT 1 
FROM json_each(events.properties, ?) AS element 
WHERE json_type(element.value, ?) IN (__[POSTCOMPILE_json_type_4]) AND json_extract(element.value, ?) = ?))))
-- count_1 = 1000
-- json_each_1 = '$."products"'
-- json_extract_1 = '$."category"'
-- json_extract_2 = 'Shoes'
-- json_type_1 = '$."machine_open"'
-- json_type_2 = ['true']
-- json_type_3 = '$."category"'
-- json_type_4 = ['text']
-- name_1 = ['Email Clicked', 'Email Opened']
-- name_2 = 'Email Opened'
-- name_3 = 'Checkout Started'
-- param_1 = 1
-- param_2 = 9999
-- param_3 = 10000
-- param_4 = 1
-- param_5 = datetime.datetime(2026, 5, 6, 9, 0, tzinfo=datetime.timezone.utc)
-- revenue_minor_1 = 0
-- revenue_minor_2 = 0
