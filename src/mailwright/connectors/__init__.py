"""Connectors: other stores (WooCommerce, Magento), CRMs (HubSpot, Zoho), imports from other email tools, outbound webhooks."""
