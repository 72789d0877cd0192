{#- Customer accounts of the sales database, one row per extracted version: each with the days it is in force (sales_db_history). -#}
{{ config(materialized='table') }}

{{ sales_db_history('sales_db_customers', 'customer_id') }}
