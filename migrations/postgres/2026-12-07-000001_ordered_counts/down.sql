-- The function before is equivalent but for the order; nothing to undo.
SELECT 1;
