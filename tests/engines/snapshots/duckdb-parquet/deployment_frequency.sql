SELECT
  "t7"."grp",
  COUNT(*) AS "deployments",
  COUNT(DISTINCT CAST("t7"."finished_at" AS DATE)) AS "deploy_days"
FROM (
  SELECT
    "t6"."id",
    "t6"."service",
    "t6"."started_at",
    "t6"."finished_at",
    "t6"."s_name",
    "t6"."s_team",
    "t6"."s_context",
    'organisation' AS "grp"
  FROM (
    SELECT
      "t5"."id",
      "t5"."service",
      "t5"."started_at",
      "t5"."finished_at",
      "t4"."s_name",
      "t4"."s_team",
      "t4"."s_context"
    FROM (
      SELECT
        "t0"."id",
        "t0"."service",
        "t0"."started_at",
        "t0"."finished_at"
      FROM "headway_deployments" AS "t0"
      WHERE
        "t0"."status" IN ('success')
        AND "t0"."kind" IN ('deploy', 'hotfix', 'rollback', 'release')
        AND "t0"."environment" IN ('production')
        AND "t0"."finished_at" >= MAKE_TIMESTAMP(2026, 9, 2, 0, 0, 0.0)
        AND "t0"."finished_at" < MAKE_TIMESTAMP(2026, 11, 1, 0, 0, 0.0)
        AND "t0"."service" IN ('notifications', 'payments-ledger', 'search', 'storefront')
    ) AS "t5"
    LEFT OUTER JOIN (
      SELECT
        "t1"."name" AS "s_name",
        "t1"."team" AS "s_team",
        "t1"."context" AS "s_context"
      FROM "headway_services" AS "t1"
    ) AS "t4"
      ON "t5"."service" = "t4"."s_name"
  ) AS "t6"
) AS "t7"
GROUP BY
  1
