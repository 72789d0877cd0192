"""The Kaggle "Payment Date Prediction for Invoices" source: its contract and the replay of the file as daily drops."""
