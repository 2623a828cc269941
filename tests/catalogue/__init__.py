"""The catalogue: modules and programmes, in HTML, the API and services."""
