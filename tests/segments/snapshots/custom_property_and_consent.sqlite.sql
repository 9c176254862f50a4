SELECT contacts.id 
FROM contacts 
WHERE contacts.merged_into_id IS NULL AND contacts.consent_status IN (__[POSTCOMPILE_consent_status_1]) AND json_type(contacts.properties, ?) IN (__[POSTCOMPILE_json_type_2]) AND json_extract(contacts.properties, ?) = ? AND CASE WHEN (json_type(contacts.properties, ?) IN (__[POSTCOMPILE_json_type_4])) THEN json_extract(contacts.properties, ?) END >= ?
-- consent_status_1 = ['subscribed']
-- json_extract_1 = '$."tier"'
-- json_extract_2 = 'gold'
-- json_extract_3 = '$."score"'
-- json_type_1 = '$."tier"'
-- json_type_2 = ['text']
-- json_type_3 = '$."score"'
-- json_type_4 = ['integer', 'real']
-- param_1 = 10
