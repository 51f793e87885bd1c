"""HTTP transport: routes decode requests and encode responses; nothing here does maths."""
