// Package notion keeps the tracking plan in Notion: it reads the plan from
// two linked databases (Events and Properties), creates them (Init), writes
// a plan into them (Push), and writes observed values back into the columns
// trackplan owns (WriteObserved). It is the only importer of
// github.com/jomei/notionapi.
//
// # Requests
//
// Every request goes through a Transport: sent to the configured base URL,
// throttled (3 requests/s by default), retried on 429, 529, 5xx and timeouts
// with Retry-After honoured, bodies rewound on every attempt, and counted
// by method and status. notionapi is built with WithRetry(1), so its own 429
// loop never runs.
//
// # What notionapi is used for, and what it is not
//
// notionapi v1.13.3 speaks API version 2022-06-28 and is used to create the
// databases, rename a column and list users. It is not used where it is
// wrong:
//
//   - Decoding a page or a database fails as a whole on any property type
//     it does not know ("unsupported property type"). Reads decode the
//     answers here, and only the columns trackplan uses; writes decode only
//     the id of the answer.
//   - A relation value in a query result holds at most 25 pages; notionapi
//     has no has_more field and no "retrieve a page property item"
//     endpoint. Reads call GET /v1/pages/{id}/properties/{property} for
//     every relation Notion marks has_more.
//   - Its select, status, number and date values cannot be cleared (null),
//     and dates are always sent as date-times. Those values are built here.
//   - Its page update always sends "archived": false (restoring a trashed
//     page). Updates are sent here without it.
//   - Its 429 retry re-sends an emptied body. The Transport retries instead.
//
// # Layout
//
// The columns are those of the product's Notion layout, their names
// configurable (ColumnNames). Extra columns of any type are ignored. A
// Properties row is linked (Events relation) to every event that has that
// property with that definition; reading gives each linked event a copy.
// Notion keeps no row order, so a plan read back has its events and their
// properties ordered by name.
//
// Notion API version 2025-09-03 splits databases into data sources; on
// 2022-06-28 a database with a second data source can no longer be queried
// or written, and the errors say so.
package notion
