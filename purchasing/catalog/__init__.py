"""The catalogue: families, suppliers, products and their price versions."""
