SELECT contacts.id 
FROM contacts 
WHERE contacts.merged_into_id IS NULL AND contacts.id IN (SELECT events.contact_id 
FROM events 
WHERE events.name IN (__[POSTCOMPILE_name_1]) GROUP BY events.contact_id 
HAVING max(events.occurred_at) < %(param_1)s::TIMESTAMP WITH TIME ZONE) AND contacts.id IN (SELECT since_last.contact_id 
FROM (SELECT events.contact_id AS contact_id, max(events.occurred_at) AS last_at 
FROM events 
WHERE events.name IN (__[POSTCOMPILE_name_2]) GROUP BY events.contact_id) AS since_last 
WHERE NOT (EXISTS (SELECT 1 
FROM events AS later 
WHERE later.contact_id = since_last.contact_id AND later.name IN (__[POSTCOMPILE_name_3]) AND later.occurred_at > since_last.last_at)))
-- name_1 = ['Product Added', 'Checkout Started']
-- name_2 = ['Product Added', 'Checkout Started']
-- name_3 = ['Order Completed']
-- param_1 = datetime.datetime(2026, 11, 2, 8, 0, tzinfo=datetime.timezone.utc)
