SELECT contacts.id 
FROM contacts 
WHERE contacts.merged_into_id IS NULL AND contacts.id IN (SELECT events.contact_id 
FROM events 
WHERE events.name = ? AND events.occurred_at >= ? AND json_type(events.properties, ?) IN (__[POSTCOMPILE_json_type_2]) AND json_extract(events.properties, ?) = ? GROUP BY events.contact_id 
HAVING count(*) >= ?) AND (contacts.id NOT IN (SELECT events.contact_id 
FROM events 
WHERE events.name = ? AND events.contact_id IN (SELECT contacts.id 
FROM contacts 
WHERE contacts.merged_into_id IS NULL AND contacts.id IN (SELECT events.contact_id 
FROM events 
WHERE events.name = ? AND events.occurred_at >= ? AND json_type(events.properties, ?) IN (__[POSTCOMPILE_json_type_2]) AND json_extract(events.properties, ?) = ? GROUP BY events.contact_id 
HAVING count(*) >= ?))))
-- count_1 = 2
-- json_extract_1 = '$."category"'
-- json_extract_2 = 'Shoes'
-- json_type_1 = '$."category"'
-- json_type_2 = ['text']
-- name_1 = 'Product Viewed'
-- name_2 = 'Order Completed'
-- param_1 = datetime.datetime(2026, 10, 26, 9, 0, tzinfo=datetime.timezone.utc)
