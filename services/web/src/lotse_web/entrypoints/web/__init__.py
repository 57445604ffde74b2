"""The pages, by journey."""
