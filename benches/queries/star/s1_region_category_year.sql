-- Star join: one year of sales by store region and product category (the year comes from the
-- date dimension, so only a runtime filter from it can prune the fact table's row groups).
select
    s.region,
    p.category,
    sum(f.amount) as revenue,
    sum(f.quantity) as units,
    count(*) as sales
from
    sales f
    join date_dim d on f.sale_date = d.d_date
    join store s on f.store_id = s.store_id
    join product p on f.product_id = p.product_id
where
    d.d_year = 2023
group by
    s.region,
    p.category
order by
    s.region,
    p.category;
