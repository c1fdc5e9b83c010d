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
// # API versions
//
// Config.APIVersion selects the Notion-Version: 2025-09-03 (the default) or
// 2022-06-28. Since 2025-09-03 a database is a container of data sources,
// each with its own columns and rows: the Events database's data sources
// are discovered (GET /v1/databases/{id}), the plan's one is picked
// (Config.EventsSource, else the first, logged when there are several), its
// schema read from GET /v1/data_sources/{id}, its rows queried through POST
// /v1/data_sources/{id}/query and created with a data_source_id parent; the
// Properties data source is the one the Events relation names; Init
// creates each database with its initial data source. A database, data
// source or URL of either locates a database (ParseID). On 2022-06-28 a
// database with a second data source fails every request, and the
// *DatabaseError says to move to 2025-09-03 (SeveralSources).
//
// # What notionapi is used for, and what it is not
//
// notionapi v1.13.3 speaks API version 2022-06-28 only. It is used to list
// users (both versions), for the request types of property values (both
// versions), and on 2022-06-28 to create the databases and rename a
// column. Everything of 2025-09-03 (data sources, databases created with
// initial_data_source, relations naming a data source) is sent here with
// the adapter's own request bodies over the same client and Transport. It
// is not used where it is wrong:
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
package notion
