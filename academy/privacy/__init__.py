"""Privacy under the UK GDPR: people's export of their own data, admins' erasure of a person's
personal data, and the retention schedule that deletes what is no longer kept."""
