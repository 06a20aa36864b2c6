WITH "t12" AS (
  SELECT
    "t11"."grp",
    CASE
      WHEN (
        COALESCE("t5"."first_commit_at", "t5"."opened_at", "t5"."merged_at") IS NULL
      )
      OR (
        "t11"."deployed" IS NULL
      )
      THEN CAST(NULL AS DOUBLE)
      WHEN (
        DATE_DIFF(
          'MICROSECOND',
          COALESCE("t5"."first_commit_at", "t5"."opened_at", "t5"."merged_at"),
          "t11"."deployed"
        ) / 1000000
      ) < 0
      THEN CAST(NULL AS DOUBLE)
      WHEN (
        DATE_DIFF(
          'MICROSECOND',
          COALESCE("t5"."first_commit_at", "t5"."opened_at", "t5"."merged_at"),
          "t11"."deployed"
        ) / 1000000
      ) = 0
      THEN 0.0
      ELSE DATE_DIFF(
        'MICROSECOND',
        COALESCE("t5"."first_commit_at", "t5"."opened_at", "t5"."merged_at"),
        "t11"."deployed"
      ) / 1000000
    END AS "x",
    CASE
      WHEN "t11"."deployed" < COALESCE("t5"."first_commit_at", "t5"."opened_at", "t5"."merged_at")
      THEN 1
      ELSE 0
    END AS "neg"
  FROM (
    SELECT
      *
    FROM "headway_changes" AS "t0"
    WHERE
      TRUE
  ) AS "t5"
  INNER JOIN (
    SELECT
      'organisation' AS "grp",
      "t9"."id" AS "dep_id",
      "t9"."finished_at" AS "deployed",
      "t9"."service" AS "dep_service",
      COALESCE("t9"."started_at", "t9"."finished_at") AS "dep_t"
    FROM (
      SELECT
        "t8"."id",
        "t8"."service",
        "t8"."started_at",
        "t8"."finished_at",
        "t7"."s_name",
        "t7"."s_team",
        "t7"."s_context"
      FROM (
        SELECT
          "t1"."id",
          "t1"."service",
          "t1"."started_at",
          "t1"."finished_at"
        FROM "headway_deployments" AS "t1"
        WHERE
          "t1"."status" IN ('success')
          AND "t1"."kind" IN ('deploy', 'hotfix', 'rollback', 'release')
          AND "t1"."environment" IN ('production')
          AND "t1"."finished_at" >= MAKE_TIMESTAMP(2026, 9, 2, 0, 0, 0.0)
          AND "t1"."finished_at" < MAKE_TIMESTAMP(2026, 11, 1, 0, 0, 0.0)
          AND "t1"."service" IN ('notifications', 'payments-ledger', 'search', 'storefront')
      ) AS "t8"
      LEFT OUTER JOIN (
        SELECT
          "t2"."name" AS "s_name",
          "t2"."team" AS "s_team",
          "t2"."context" AS "s_context"
        FROM "headway_services" AS "t2"
      ) AS "t7"
        ON "t8"."service" = "t7"."s_name"
    ) AS "t9"
  ) AS "t11"
    ON "t5"."deployment_id" = "t11"."dep_id"
)
SELECT
  "t16"."grp",
  "t16"."n",
  "t16"."mean_s",
  "t16"."negative",
  "t19"."median_s_lo" + (
    (
      "t19"."median_s_hi" - "t19"."median_s_lo"
    ) * "t19"."median_s_frac"
  ) AS "median_s",
  "t19"."p75_s_lo" + (
    (
      "t19"."p75_s_hi" - "t19"."p75_s_lo"
    ) * "t19"."p75_s_frac"
  ) AS "p75_s",
  "t19"."p90_s_lo" + (
    (
      "t19"."p90_s_hi" - "t19"."p90_s_lo"
    ) * "t19"."p90_s_frac"
  ) AS "p90_s"
FROM (
  SELECT
    "t13"."grp",
    COUNT("t13"."x") AS "n",
    AVG("t13"."x") AS "mean_s",
    SUM("t13"."neg") AS "negative"
  FROM "t12" AS "t13"
  GROUP BY
    1
) AS "t16"
LEFT OUTER JOIN (
  SELECT
    "t17"."grp",
    MAX("t17"."x") FILTER(WHERE
      "t17"."rank" = CAST(FLOOR((
        (
          "t17"."size" - 1
        ) * 1
      ) / (
        2
      )) AS BIGINT)) AS "median_s_lo",
    MAX("t17"."x") FILTER(WHERE
      "t17"."rank" = (
        CAST(FLOOR((
          (
            "t17"."size" - 1
          ) * 1
        ) / (
          2
        )) AS BIGINT) + CASE
          WHEN (
            (
              (
                "t17"."size" - 1
              ) * 1
            ) % 2
          ) > 0
          THEN 1
          ELSE 0
        END
      )) AS "median_s_hi",
    MAX(CAST((
      (
        "t17"."size" - 1
      ) * 1
    ) % 2 AS DOUBLE) / 2.0) AS "median_s_frac",
    MAX("t17"."x") FILTER(WHERE
      "t17"."rank" = CAST(FLOOR((
        (
          "t17"."size" - 1
        ) * 3
      ) / (
        4
      )) AS BIGINT)) AS "p75_s_lo",
    MAX("t17"."x") FILTER(WHERE
      "t17"."rank" = (
        CAST(FLOOR((
          (
            "t17"."size" - 1
          ) * 3
        ) / (
          4
        )) AS BIGINT) + CASE
          WHEN (
            (
              (
                "t17"."size" - 1
              ) * 3
            ) % 4
          ) > 0
          THEN 1
          ELSE 0
        END
      )) AS "p75_s_hi",
    MAX(CAST((
      (
        "t17"."size" - 1
      ) * 3
    ) % 4 AS DOUBLE) / 4.0) AS "p75_s_frac",
    MAX("t17"."x") FILTER(WHERE
      "t17"."rank" = CAST(FLOOR((
        (
          "t17"."size" - 1
        ) * 9
      ) / (
        10
      )) AS BIGINT)) AS "p90_s_lo",
    MAX("t17"."x") FILTER(WHERE
      "t17"."rank" = (
        CAST(FLOOR((
          (
            "t17"."size" - 1
          ) * 9
        ) / (
          10
        )) AS BIGINT) + CASE
          WHEN (
            (
              (
                "t17"."size" - 1
              ) * 9
            ) % 10
          ) > 0
          THEN 1
          ELSE 0
        END
      )) AS "p90_s_hi",
    MAX(CAST((
      (
        "t17"."size" - 1
      ) * 9
    ) % 10 AS DOUBLE) / 10.0) AS "p90_s_frac"
  FROM (
    SELECT
      "t14"."grp",
      "t14"."x",
      "t14"."neg",
      ROW_NUMBER() OVER (
        PARTITION BY "t14"."grp"
        ORDER BY "t14"."x" ASC
        ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
      ) - 1 AS "rank",
      COUNT("t14"."x") OVER (PARTITION BY "t14"."grp" ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS "size"
    FROM (
      SELECT
        *
      FROM "t12" AS "t13"
      WHERE
        "t13"."x" IS NOT NULL
    ) AS "t14"
  ) AS "t17"
  GROUP BY
    1
) AS "t19"
  ON "t16"."grp" = "t19"."grp"
