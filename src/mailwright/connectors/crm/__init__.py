"""CRM connectors (HubSpot, Zoho): contacts in, Mailwright's computed properties back out."""
