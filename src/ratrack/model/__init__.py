"""The recurrent attention tracker's network: config, glimpse cutting, correlation, conv net and
the recurrent tracker that assembles them."""
