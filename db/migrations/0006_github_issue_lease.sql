-- The work on one GitHub issue (making its operation, editing its status
-- comment, opening its pull request) is serialised by a lease on its
-- github_issues row, claimed and released with single statements, instead
-- of a row lock held in a transaction across the calls to GitHub: no pooled
-- connection sits idle in a transaction while GitHub answers, and deleting
-- an operation (whose cascade deletes the row) never waits on GitHub.
-- lease is the holder's token, lease_until when it lapses: a holder that
-- died lets go by itself.
ALTER TABLE github_issues
    ADD COLUMN lease       uuid,
    ADD COLUMN lease_until timestamptz;
