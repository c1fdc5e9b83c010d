// Package plandiff compares two tracking plans and classes every change as
// breaking or not, so that a plan edit can be reviewed like a code change
// (`trackplan plan diff OLD NEW`).
//
// Events are matched by call type and name, identify and group entries by
// call type alone, as (*trackplan.Plan).Lookup finds them; properties are
// matched by path. Diff lists every change in a deterministic order: by
// event name and call type, then property path, then Kind.
//
// # Breaking changes
//
// A change is breaking when a message that was valid under the old plan can
// get an error or a warning under the new one. Breaking:
//
//   - a track, page or screen event removed or renamed: its calls become
//     UNPLANNED_EVENT;
//   - an identify or group entry added: traits that were not checked now are;
//   - an event's call type changed, except page or screen to track (a page
//     or screen call falls back to the track entry of its name);
//   - an event's status changed to deprecated (DEPRECATED_STILL_SEEN);
//   - a property removed or renamed: it becomes UNPLANNED_PROPERTY, unless a
//     declared ancestor in the new plan still accepts anything below it (an
//     any, or an object or array without declared members), or members of
//     the removed object or array are still declared under it;
//   - a property added as required, or added under an ancestor that accepted
//     anything in the old plan (the new declaration constrains values that
//     were accepted, and closes an open object or array);
//   - a property made required, or no longer nullable (a property of type any
//     is always nullable);
//   - a type changed, except to any, integer to number and datetime to string
//     (each of those accepts every value the old type accepted); any to a
//     concrete type and number to integer are breaking;
//   - enum values removed, or an enum added where there was none;
//   - a pattern added or changed (a changed pattern may reject values the old
//     one matched; plandiff does not compare regular expressions);
//   - a range narrowed: a minimum added or raised, or a maximum added or
//     lowered. A range moved so that it both gains and loses values is
//     narrowed.
//
// Not breaking: events and optional properties added, an identify or group
// entry removed (its calls are no longer checked), page or screen to track,
// status changes other than to deprecated, enum values added, an enum
// dropped, a range widened, required to optional, nullable added, a pattern
// removed, and metadata: an event's description, why, owner, tags,
// platforms and weight, a property's description and PII flag, the name of
// an identify or group entry (one change per field).
//
// # Renames
//
// A rename is a guess, made only when it is unambiguous:
//
//   - an event is renamed when a removed event and an added event have the
//     same call type and the same non-empty set of property paths with the
//     same types, and no other removed or added event of that call type has
//     that set;
//   - a property is renamed when, within one event, a removed property and
//     an added one have the same type, required and nullable flags, enum
//     (as a set), pattern, bounds, PII flag and the same non-empty
//     description, and no other removed or added property of that event
//     matches them.
//
// Anything else is a removal and an addition. A renamed event is then
// compared property by property like any matched event; likewise an event
// whose call type changed (a track, page or screen entry removed and one of
// another of those types added under the same name).
package plandiff
