-- One month of the fact table (pruned by its sorted column) joined with two dimensions, top 10.
select
    s.city,
    p.brand,
    sum(f.amount) as revenue
from
    sales f
    join store s on f.store_id = s.store_id
    join product p on f.product_id = p.product_id
where
    f.sale_date >= date '2023-06-01'
    and f.sale_date < date '2023-07-01'
group by
    s.city,
    p.brand
order by
    revenue desc,
    s.city,
    p.brand
limit 10;
