"""The HTTP pipeline: one route table, and every step of a request written once (limits,
namespace, replay and faults, guard, validation, handler, error envelope, journal)."""
