"""The Postman collection of the API and the script that writes it."""
