"""Testing tools for mailbridge users and provider plugins (shipped, public)."""
