SELECT contacts.id 
FROM contacts 
WHERE contacts.merged_into_id IS NULL AND contacts.id IN (SELECT events.contact_id 
FROM events 
WHERE events.name = %(name_1)s::VARCHAR AND events.occurred_at >= %(param_1)s::TIMESTAMP WITH TIME ZONE AND jsonb_typeof(events.properties -> %(param_2)s::VARCHAR) IN (__[POSTCOMPILE_jsonb_typeof_1]) AND (events.properties ->> %(param_3)s::VARCHAR) = %(param_4)s::VARCHAR GROUP BY events.contact_id 
HAVING count(*) >= %(count_1)s::INTEGER) AND (contacts.id NOT IN (SELECT events.contact_id 
FROM events 
WHERE events.name = %(name_2)s::VARCHAR AND events.contact_id IN (SELECT contacts.id 
FROM contacts 
WHERE contacts.merged_into_id IS NULL AND contacts.id IN (SELECT events.contact_id 
FROM events 
WHERE events.name = %(name_1)s::VARCHAR AND events.occurred_at >= %(param_1)s::TIMESTAMP WITH TIME ZONE AND jsonb_typeof(events.properties -> %(param_2)s::VARCHAR) IN (__[POSTCOMPILE_jsonb_typeof_1]) AND (events.properties ->> %(param_3)s::VARCHAR) = %(param_4)s::VARCHAR GROUP BY events.contact_id 
HAVING count(*) >= %(count_1)s::INTEGER))))
-- count_1 = 2
-- jsonb_typeof_1 = ['string']
-- name_1 = 'Product Viewed'
-- name_2 = 'Order Completed'
-- param_1 = datetime.datetime(2026, 10, 26, 9, 0, tzinfo=datetime.timezone.utc)
-- param_2 = 'category'
-- param_3 = 'category'
-- param_4 = 'Shoes'
