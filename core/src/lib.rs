//! dxforge core (being written).
