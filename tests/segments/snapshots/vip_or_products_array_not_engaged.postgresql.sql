SELECT contacts.id 
FROM contacts 
WHERE contacts.merged_into_id IS NULL AND (contacts.revenue_minor > %(revenue_minor_1)s::BIGINT AND contacts.revenue_minor >= (SELECT contacts.revenue_minor 
FROM contacts 
WHERE contacts.merged_into_id IS NULL AND contacts.revenue_minor > %(revenue_minor_2)s::BIGINT ORDER BY contacts.revenue_minor DESC 
 LIMIT %(param_1)s::INTEGER OFFSET (SELECT (count(*) * %(count_1)s::INTEGER + %(param_2)s::INTEGER) / %(param_3)s::INTEGER - %(param_4)s::INTEGER AS anon_1 
FROM (SELECT contacts.revenue_minor AS revenue_minor 
FROM contacts 
WHERE contacts.merged_into_id IS NULL AND contacts.revenue_minor > %(revenue_minor_2)s::BIGINT) AS ranked)) OR NOT coalesce(contacts.id IN (SELECT events.contact_id 
FROM events 
WHERE events.name IN (__[POSTCOMPILE_name_1]) AND events.occurred_at >= %(param_5)s::TIMESTAMP WITH TIME ZONE AND (events.name != %(name_2)s::VARCHAR OR NOT coalesce(jsonb_typeof(events.properties -> %(param_6)s::VARCHAR) = %(jsonb_typeof_1)s::VARCHAR AND (events.properties ->> %(param_7)s::VARCHAR) = %(param_8)s::VARCHAR, false))), false) OR contacts.id IN (SELECT events.contact_id 
FROM events 
WHERE events.name = %(name_3)s::VARCHAR AND (EXISTS (SELECT 1 
FROM jsonb_array_elements(CASE WHEN (jsonb_typeof(events.properties -> %(param_9)s::VARCHAR) = %(jsonb_typeof_2)s::VARCHAR) THEN events.properties -> %(param_10)s::VARCHAR ELSE %(param_11)s::JSONB END) AS element 
WHERE jsonb_typeof(element.value -> %(param_12)s::VARCHAR) IN (__[POSTCOMPILE_jsonb_typeof_3]) AND (element.value ->> %(param_13)s::VARCHAR) = %(param_14)s::VARCHAR))))
-- count_1 = 1000
-- jsonb_typeof_1 = 'boolean'
-- jsonb_typeof_2 = 'array'
-- jsonb_typeof_3 = ['string']
-- name_1 = ['Email Clicked', 'Email Opened']
-- name_2 = 'Email Opened'
-- name_3 = 'Checkout Started'
-- param_1 = 1
-- param_10 = 'products'
-- param_11 = []
-- param_12 = 'category'
-- param_13 = 'category'
-- param_14 = 'Shoes'
-- param_2 = 9999
-- param_3 = 10000
-- param_4 = 1
-- param_5 = datetime.datetime(2026, 5, 6, 9, 0, tzinfo=datetime.timezone.utc)
-- param_6 = 'machine_open'
-- param_7 = 'machine_open'
-- param_8 = 'true'
-- param_9 = 'products'
-- revenue_minor_1 = 0
-- revenue_minor_2 = 0
