-- Two dimension filters (a year, a country) on a join with the larger customer dimension.
select
    c.segment,
    d.d_quarter,
    count(*) as sales,
    sum(f.amount) as revenue
from
    sales f
    join customer c on f.customer_id = c.customer_id
    join date_dim d on f.sale_date = d.d_date
where
    d.d_year = 2024
    and c.country = 'NL'
group by
    c.segment,
    d.d_quarter
order by
    c.segment,
    d.d_quarter;
