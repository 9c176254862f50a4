"""Segments: typed definitions compiled to SQL, materialized membership, RFM and lifecycle stages, cohorts."""
