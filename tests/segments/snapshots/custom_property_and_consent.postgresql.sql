SELECT contacts.id 
FROM contacts 
WHERE contacts.merged_into_id IS NULL AND contacts.consent_status IN (__[POSTCOMPILE_consent_status_1]) AND jsonb_typeof(contacts.properties -> %(param_1)s::VARCHAR) IN (__[POSTCOMPILE_jsonb_typeof_1]) AND (contacts.properties ->> %(param_2)s::VARCHAR) = %(param_3)s::VARCHAR AND CASE WHEN (jsonb_typeof(contacts.properties -> %(param_4)s::VARCHAR) = %(jsonb_typeof_2)s::VARCHAR) THEN CAST(contacts.properties ->> %(param_5)s::VARCHAR AS NUMERIC) END >= %(param_6)s::INTEGER
-- consent_status_1 = ['subscribed']
-- jsonb_typeof_1 = ['string']
-- jsonb_typeof_2 = 'number'
-- param_1 = 'tier'
-- param_2 = 'tier'
-- param_3 = 'gold'
-- param_4 = 'score'
-- param_5 = 'score'
-- param_6 = 10
