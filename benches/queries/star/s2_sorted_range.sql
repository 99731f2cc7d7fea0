-- Selective filter on the sorted column: one week out of six years; min/max statistics leave one
-- or two row groups to read.
select
    count(*) as sales,
    sum(amount) as revenue,
    min(amount) as smallest,
    max(amount) as largest
from
    sales
where
    sale_date between date '2022-03-01' and date '2022-03-07';
