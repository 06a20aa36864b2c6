SELECT
  "t4"."link_id",
  "t4"."ref",
  "t6"."named",
  CASE WHEN "t4"."ref" IS NOT NULL THEN "t6"."named" ELSE "t14"."f_dep" END AS "deployment_id"
FROM (
  SELECT
    "t0"."id" AS "link_id",
    "t0"."deployment_ref" AS "ref"
  FROM "changes" AS "t0"
) AS "t4"
LEFT OUTER JOIN (
  SELECT
    "t1"."id" AS "named"
  FROM "deployments" AS "t1"
) AS "t6"
  ON "t4"."ref" = "t6"."named"
LEFT OUTER JOIN (
  SELECT
    "t12"."event_id" AS "f_event",
    "t12"."deployment_id" AS "f_dep"
  FROM (
    SELECT
      "t11"."event_id",
      "t11"."service",
      "t11"."t",
      "t11"."o",
      "t11"."dep_id",
      "t11"."run",
      MAX("t11"."dep_id") OVER (
        PARTITION BY "t11"."service", "t11"."run"
        ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
      ) AS "deployment_id",
      MAX(
        CASE
          WHEN "t11"."dep_id" IS NOT NULL
          THEN "t11"."t"
          ELSE CAST(NULL AS TIMESTAMP(6))
        END
      ) OVER (
        PARTITION BY "t11"."service", "t11"."run"
        ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
      ) AS "dep_t"
    FROM (
      SELECT
        "t10"."event_id",
        "t10"."service",
        "t10"."t",
        "t10"."o",
        "t10"."dep_id",
        COUNT("t10"."dep_id") OVER (
          PARTITION BY "t10"."service"
          ORDER BY "t10"."t" DESC, "t10"."o" ASC
          ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS "run"
      FROM (
        SELECT
          *
        FROM (
          SELECT
            CAST("t0"."id" AS TEXT) AS "event_id",
            CAST("t0"."service" AS TEXT) AS "service",
            "t0"."merged_at" AS "t",
            1 AS "o",
            CAST(NULL AS TEXT) AS "dep_id"
          FROM "changes" AS "t0"
          WHERE
            "t0"."merged_at" IS NOT NULL AND "t0"."deployment_ref" IS NULL
        ) AS "t5"
        UNION ALL
        SELECT
          *
        FROM (
          SELECT
            CAST(NULL AS TEXT) AS "event_id",
            CAST("t8"."service" AS TEXT) AS "service",
            "t8"."t",
            0 AS "o",
            CAST("t8"."dep_id" AS TEXT) AS "dep_id"
          FROM (
            SELECT
              "t7"."service",
              "t7"."t",
              MIN("t7"."id") AS "dep_id"
            FROM (
              SELECT
                "t1"."id",
                "t1"."service",
                COALESCE("t1"."started_at", "t1"."finished_at") AS "t"
              FROM "deployments" AS "t1"
              WHERE
                "t1"."status" = 'success'
                AND "t1"."environment" IN ('production')
                AND "t1"."kind" IN ('deploy', 'hotfix')
            ) AS "t7"
            GROUP BY
              1,
              2
          ) AS "t8"
        ) AS "t9"
      ) AS "t10"
    ) AS "t11"
  ) AS "t12"
  WHERE
    "t12"."event_id" IS NOT NULL AND "t12"."deployment_id" IS NOT NULL
) AS "t14"
  ON "t4"."link_id" = "t14"."f_event"
