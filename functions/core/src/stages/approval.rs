//! Placeholder replaced by the approval stage (request, timeout policy).
