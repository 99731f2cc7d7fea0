-- Full scan aggregate of the fact table: no pruning possible, bounded by decode speed.
select
    store_id,
    count(*) as sales,
    sum(quantity) as units,
    sum(amount) as revenue
from
    sales
group by
    store_id
order by
    store_id;
