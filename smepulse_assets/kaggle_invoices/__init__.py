"""The Kaggle "Payment Date Prediction for Invoices" source: contract, parsing, replay, bronze asset, sensor."""
