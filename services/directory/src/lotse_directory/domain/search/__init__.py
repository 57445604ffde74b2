"""Search: German analysis, query plan and documents, shared by both backends."""
