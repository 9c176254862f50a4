"""File imports: CSV customers, products and orders, and the Online Retail data set."""
