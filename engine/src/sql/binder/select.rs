//! One `SELECT`: `FROM`, `WHERE`, `GROUP BY` (names, output aliases, ordinals, expressions),
//! aggregates wherever they appear, `HAVING`, the select list with `*` and `t.*`, `DISTINCT`, and
//! `ORDER BY` keys that may use expressions not in the select list (carried as hidden columns).

use std::cell::RefCell;

use sqlparser::ast::{self, Spanned};
use sqlparser::tokenizer::Span;

use crate::error::Result;
use crate::plan::{Expr, LogicalPlan, SortExpr};
use crate::sql::binder::aggregate::onto_aggregate;
use crate::sql::binder::expr::{project_schema, AggregateCollector, ExprBinder};
use crate::sql::binder::grouping_sets::{bind_grouping, grouping_plan, GroupBy};
use crate::sql::binder::query::{ident_name, ordinal, sort_expr, CteScope};
use crate::sql::binder::scope::{eq_ignore_case, Scope};
use crate::sql::binder::window::{resolve_placeholders, window_plan, with_select_aliases, WindowCollector};
use crate::sql::binder::{not_supported, plan_err, Binder};

/// A bound `SELECT` whose `ORDER BY` keys are bound over `plan`'s output; columns past `visible`
/// are hidden sort columns the caller projects away after sorting (and limiting).
pub(crate) struct SelectOutput {
    pub plan: LogicalPlan,
    pub sort_keys: Vec<SortExpr>,
    pub visible: usize,
}

impl SelectOutput {
    /// The plan when there is no `ORDER BY` (so no hidden columns).
    pub fn finish(self) -> LogicalPlan {
        self.plan
    }
}

/// One select-list entry before binding: an expression with its output name, or a column that
/// `*` expanded to.
enum Item<'q> {
    Expr { expr: &'q ast::Expr, name: String },
    Column { index: usize, name: String },
}

impl Item<'_> {
    fn name(&self) -> &str {
        match self {
            Item::Expr { name, .. } | Item::Column { name, .. } => name,
        }
    }
}

/// Where an `ORDER BY` key points: at an output column, or at an expression over the input.
enum OrderKey {
    Output(usize),
    Input(Expr),
}

impl Binder<'_> {
    pub(crate) fn bind_select(
        &self,
        select: &ast::Select,
        order_by: Option<&ast::OrderBy>,
        ctes: &CteScope<'_>,
    ) -> Result<SelectOutput> {
        reject_unsupported(select)?;
        let (mut plan, scope) = self.bind_from(&select.from, ctes)?;
        if let Some(selection) = &select.selection {
            let predicate = ExprBinder::new(self, &scope, "WHERE").with_ctes(ctes).bind_predicate(selection)?;
            plan = LogicalPlan::Filter { input: Box::new(plan), predicate };
        }
        let items = expand_items(&select.projection, &scope)?;

        let group_by = self.bind_group_by(&select.group_by, &items, &scope)?;
        let grouping_sets = group_by.sets.is_some();
        let group_keys = group_by.keys.clone();
        let collector = RefCell::new(AggregateCollector::default());
        let binder = |clause| ExprBinder::new(self, &scope, clause).with_aggregates(&collector).with_ctes(ctes);
        let windows = RefCell::new(WindowCollector::try_new(&select.named_window)?);
        let window_binder = |clause| binder(clause).with_windows(&windows);
        let mut exprs = Vec::with_capacity(items.len());
        for item in &items {
            exprs.push(match item {
                Item::Expr { expr, .. } => window_binder("SELECT").bind(expr)?,
                Item::Column { index, .. } => Expr::Column(*index),
            });
        }
        let having = select.having.as_ref().map(|h| binder("HAVING").bind_predicate(h)).transpose()?;
        let mut order_keys = Vec::new();
        if let Some(order_by) = order_by {
            let ast::OrderByKind::Expressions(keys) = &order_by.kind else {
                return Err(not_supported("ORDER BY ALL", select.select_token.0.span));
            };
            for key in keys {
                let target = match (ordinal(&key.expr, items.len())?, &key.expr) {
                    (Some(i), _) => OrderKey::Output(i),
                    (None, ast::Expr::Identifier(ident))
                        if items.iter().any(|i| eq_ignore_case(i.name(), &ident.value)) =>
                    {
                        // Invariant: the guard found a matching item.
                        OrderKey::Output(
                            items.iter().position(|i| eq_ignore_case(i.name(), &ident.value)).expect("matched"),
                        )
                    }
                    (None, expr) => OrderKey::Input(window_binder("ORDER BY").bind(expr)?),
                };
                order_keys.push((target, &key.options));
            }
        }

        let aliases: Vec<(&str, &ast::Expr)> = items
            .iter()
            .filter_map(|i| match i {
                Item::Expr { expr, name } => Some((name.as_str(), *expr)),
                Item::Column { .. } => None,
            })
            .collect();
        let mut qualify = select
            .qualify
            .as_ref()
            .map(|q| window_binder("QUALIFY").bind_predicate(&with_select_aliases(q, &aliases, &scope)))
            .transpose()?;
        let mut window_calls = windows.into_inner().calls;
        let mut collector = collector.into_inner();
        let aggregating = !group_keys.is_empty() || grouping_sets || !collector.calls.is_empty() || having.is_some();
        if aggregating {
            // Columns referenced only inside aggregate arguments are not "referenced" here.
            let calls = std::mem::take(&mut collector.calls);
            let onto = |e: Expr| onto_aggregate(e, &group_keys, &scope, &collector);
            exprs = exprs.into_iter().map(onto).collect::<Result<_>>()?;
            let having = having.map(onto).transpose()?;
            qualify = qualify.map(onto).transpose()?;
            window_calls =
                window_calls.into_iter().map(|w| w.try_map_expressions(&mut |e| onto(e))).collect::<Result<_>>()?;
            order_keys = order_keys
                .into_iter()
                .map(|(k, o)| {
                    Ok((
                        match k {
                            OrderKey::Input(e) => OrderKey::Input(onto(e)?),
                            out => out,
                        },
                        o,
                    ))
                })
                .collect::<Result<_>>()?;
            plan = grouping_plan(plan, &scope, group_by, calls)?;
            if let Some(predicate) = having {
                plan = LogicalPlan::Filter { input: Box::new(plan), predicate };
            }
        }

        // Windows run over the grouped rows; QUALIFY filters on their results.
        if !window_calls.is_empty() {
            let base = plan.schema().fields().len();
            plan = window_plan(plan, window_calls);
            let resolve = |e| resolve_placeholders(e, base);
            exprs = exprs.into_iter().map(resolve).collect();
            qualify = qualify.map(resolve);
            order_keys = order_keys
                .into_iter()
                .map(|(k, o)| {
                    let k = match k {
                        OrderKey::Input(e) => OrderKey::Input(resolve(e)),
                        out => out,
                    };
                    (k, o)
                })
                .collect();
        }
        if let Some(predicate) = qualify {
            plan = LogicalPlan::Filter { input: Box::new(plan), predicate };
        }

        let mut names: Vec<String> = items.iter().map(|i| i.name().to_string()).collect();
        let visible = exprs.len();
        let distinct = matches!(select.distinct, Some(ast::Distinct::Distinct));
        let mut sort_keys = Vec::with_capacity(order_keys.len());
        for (target, options) in order_keys {
            let column = match target {
                OrderKey::Output(i) => i,
                OrderKey::Input(e) => match exprs.iter().position(|x| *x == e) {
                    Some(i) => i,
                    None if distinct => {
                        return Err(plan_err(
                            "for SELECT DISTINCT, ORDER BY expressions must appear in the select list",
                            select.select_token.0.span,
                        ))
                    }
                    None => {
                        exprs.push(e);
                        names.push(format!("__order_{}", exprs.len()));
                        exprs.len() - 1
                    }
                },
            };
            sort_keys.push(sort_expr(Expr::Column(column), options));
        }
        let schema = project_schema(&exprs, &names, &plan.schema());
        plan = LogicalPlan::Project { input: Box::new(plan), exprs, schema };
        if distinct {
            plan = LogicalPlan::Distinct { input: Box::new(plan) };
        }
        Ok(SelectOutput { plan, sort_keys, visible })
    }

    /// `GROUP BY` keys over the input: input columns first (as PostgreSQL resolves them), then
    /// output aliases, then ordinals into the select list; duplicates are dropped.
    fn bind_group_by(&self, group_by: &ast::GroupByExpr, items: &[Item<'_>], scope: &Scope) -> Result<GroupBy> {
        let (keys, modifiers) = match group_by {
            ast::GroupByExpr::All(_) => return Err(plan_err("GROUP BY ALL is not supported yet", Span::empty())),
            ast::GroupByExpr::Expressions(keys, modifiers) => (keys, modifiers),
        };
        let binder = ExprBinder::new(self, scope, "GROUP BY");
        let item_expr = |item: &Item<'_>| match item {
            Item::Expr { expr, .. } => binder.bind(expr),
            Item::Column { index, .. } => Ok(Expr::Column(*index)),
        };
        let bind_key = |key: &ast::Expr| -> Result<Expr> {
            if let Some(i) = ordinal(key, items.len())? {
                return item_expr(&items[i]);
            }
            match (key, binder.bind(key)) {
                (ast::Expr::Identifier(ident), Err(err)) => {
                    match items
                        .iter()
                        .find(|i| matches!(i, Item::Expr { .. }) && eq_ignore_case(i.name(), &ident.value))
                    {
                        Some(item) => item_expr(item),
                        None => Err(err),
                    }
                }
                (_, result) => result,
            }
        };
        bind_grouping(keys, modifiers, &bind_key)
    }

    /// `FROM a, b JOIN c ...`: comma-separated items are cross joins; no `FROM` is one empty row.
    fn bind_from(&self, from: &[ast::TableWithJoins], ctes: &CteScope<'_>) -> Result<(LogicalPlan, Scope)> {
        let mut result: Option<(LogicalPlan, Scope)> = None;
        for item in from {
            let right = self.bind_table_with_joins(item, ctes)?;
            result = Some(match result {
                None => right,
                Some(left) => crate::sql::binder::join::cross_join(left, right),
            });
        }
        Ok(result.unwrap_or_else(|| (LogicalPlan::one_row(), Scope::default())))
    }
}

/// The select list with `*` and `t.*` expanded and every entry named.
fn expand_items<'q>(projection: &'q [ast::SelectItem], scope: &Scope) -> Result<Vec<Item<'q>>> {
    let mut items = Vec::new();
    for item in projection {
        match item {
            ast::SelectItem::UnnamedExpr(expr) => items.push(Item::Expr { expr, name: output_name(expr, scope) }),
            ast::SelectItem::ExprWithAlias { expr, alias } => items.push(Item::Expr { expr, name: ident_name(alias) }),
            ast::SelectItem::Wildcard(options) => {
                reject_wildcard_options(options)?;
                if scope.is_empty() {
                    return Err(plan_err(
                        "SELECT * with no tables specified is not valid",
                        options.wildcard_token.0.span,
                    ));
                }
                items.extend(
                    scope
                        .wildcard()
                        .into_iter()
                        .map(|i| Item::Column { index: i, name: scope.columns[i].name.clone() }),
                );
            }
            ast::SelectItem::QualifiedWildcard(kind, options) => {
                reject_wildcard_options(options)?;
                let ast::SelectItemQualifiedWildcardKind::ObjectName(name) = kind else {
                    return Err(not_supported("expression.*", item.span()));
                };
                let parts: Vec<ast::Ident> = name.0.iter().filter_map(|p| p.as_ident().cloned()).collect();
                let columns = scope.qualified_wildcard(&parts).ok_or_else(|| {
                    plan_err(format!("no table or alias '{name}' in FROM for '{name}.*'"), item.span())
                })?;
                items.extend(
                    columns.into_iter().map(|i| Item::Column { index: i, name: scope.columns[i].name.clone() }),
                );
            }
            ast::SelectItem::ExprWithAliases { .. } => return Err(not_supported("a list of aliases", item.span())),
        }
    }
    Ok(items)
}

fn reject_wildcard_options(options: &ast::WildcardAdditionalOptions) -> Result<()> {
    let plain = options.opt_ilike.is_none()
        && options.opt_exclude.is_none()
        && options.opt_except.is_none()
        && options.opt_replace.is_none()
        && options.opt_rename.is_none()
        && options.opt_alias.is_none();
    if plain {
        Ok(())
    } else {
        Err(not_supported("an option of '*' (EXCLUDE, EXCEPT, REPLACE, RENAME, ILIKE)", options.wildcard_token.0.span))
    }
}

/// The column name PostgreSQL gives an unaliased select item: the column's name, the function's
/// name, the name inside a cast, else `?column?`.
fn output_name(expr: &ast::Expr, scope: &Scope) -> String {
    match expr {
        ast::Expr::Identifier(ident) => scope
            .resolve(std::slice::from_ref(ident))
            .map(|i| scope.columns[i].name.clone())
            .unwrap_or_else(|_| ident_name(ident)),
        ast::Expr::CompoundIdentifier(parts) => scope
            .resolve(parts)
            .map(|i| scope.columns[i].name.clone())
            .unwrap_or_else(|_| parts.last().map(ident_name).unwrap_or_default()),
        ast::Expr::Function(f) => f.name.0.last().and_then(|p| p.as_ident()).map(ident_name).unwrap_or_default(),
        ast::Expr::Cast { expr, .. } | ast::Expr::Nested(expr) => output_name(expr, scope),
        ast::Expr::Extract { .. } => "extract".into(),
        ast::Expr::Substring { .. } => "substring".into(),
        ast::Expr::Position { .. } => "position".into(),
        ast::Expr::Trim { .. } => "btrim".into(),
        ast::Expr::Case { .. } => "case".into(),
        _ => "?column?".into(),
    }
}

fn reject_unsupported(select: &ast::Select) -> Result<()> {
    let span = select.select_token.0.span;
    let unsupported = [
        (matches!(select.distinct, Some(ast::Distinct::On(_))), "DISTINCT ON"),
        (select.top.is_some(), "TOP"),
        (select.into.is_some(), "SELECT INTO"),
        (!select.lateral_views.is_empty(), "LATERAL VIEW"),
        (select.prewhere.is_some(), "PREWHERE"),
        (!select.connect_by.is_empty(), "CONNECT BY"),
        (
            !select.cluster_by.is_empty() || !select.distribute_by.is_empty() || !select.sort_by.is_empty(),
            "CLUSTER/DISTRIBUTE/SORT BY",
        ),
        (select.exclude.is_some(), "SELECT ... EXCLUDE"),
        (select.value_table_mode.is_some(), "SELECT AS VALUE/STRUCT"),
        (select.flavor != ast::SelectFlavor::Standard, "FROM-first SELECT"),
    ];
    match unsupported.iter().find(|(bad, _)| *bad) {
        Some((_, what)) => Err(not_supported(what, span)),
        None => Ok(()),
    }
}
